package docker

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// imageUse is one place where a Dockerfile takes an image: a FROM, a
// COPY --from or a RUN --mount=from. Refs are the candidate references
// after variable substitution (the engine resolves them the same way;
// where its substitution rules are not certain, both the literal and the
// substituted text are listed, and each is checked).
type imageUse struct {
	Line int    // 1-based line where the instruction starts
	Text string // the instruction as written, shortened for messages
	Refs []string
}

func (u imageUse) where() string {
	return fmt.Sprintf("Dockerfile line %d (%s)", u.Line, u.Text)
}

// instruction is one logical Dockerfile line (continuations joined).
type instruction struct {
	line int
	cmd  string // upper case
	rest string
}

var directiveRe = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)

// splitInstructions cuts a Dockerfile into its instructions the way the
// engine's parser does: parser directives at the top (only escape matters
// here), comments and blank lines skipped, lines ending with the escape
// character continued. Heredoc bodies are not recognised: at worst their
// lines are read as extra instructions, which can only add checks.
func splitInstructions(content string) ([]instruction, rune) {
	lines := strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	escape := '\\'
	i := 0
	for ; i < len(lines); i++ {
		m := directiveRe.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		if strings.EqualFold(m[1], "escape") && m[2] == "`" {
			escape = '`'
		}
	}
	var out []instruction
	var cur strings.Builder
	start, open := 0, false
	finish := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		open = false
		if text == "" {
			return
		}
		cmd, rest := text, ""
		if j := strings.IndexFunc(text, unicode.IsSpace); j >= 0 {
			cmd, rest = text[:j], strings.TrimSpace(text[j:])
		}
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), rest: rest})
	}
	for ; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // comments and blank lines, also inside a continuation
		}
		if !open {
			start, open = i+1, true
		}
		body := strings.TrimRightFunc(line, unicode.IsSpace)
		if strings.HasSuffix(body, string(escape)) {
			cur.WriteString(strings.TrimSuffix(body, string(escape)))
			continue
		}
		cur.WriteString(line)
		finish()
	}
	if open {
		finish()
	}
	return out, escape
}

// dockerfileImages lists every image a Dockerfile takes, with build-arg
// substitution as the engine does it: FROM sees the ARGs declared before
// the first FROM (build args override their defaults); COPY --from and
// RUN --mount=from also see the stage's own ARG and ENV values. References
// to earlier stages (by name or index) and scratch are not images and are
// left out.
func dockerfileImages(content string, buildArgs map[string]string) ([]imageUse, error) {
	instrs, escape := splitInstructions(content)
	meta := map[string]string{}
	var stageEnv map[string]string
	var stages []string
	var uses []imageUse
	sawFrom := false

	isStage := func(ref string) bool {
		for _, s := range stages {
			if strings.EqualFold(s, ref) {
				return true
			}
		}
		if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < len(stages) {
			return true
		}
		return false
	}
	for _, in := range instrs {
		u := imageUse{Line: in.line, Text: shorten(in.cmd + " " + in.rest)}
		env := stageEnv
		if !sawFrom {
			env = meta
		}
		lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
		switch in.cmd {
		case "ARG":
			words, err := splitWords(in.rest, escape)
			if err != nil {
				return nil, fmt.Errorf("Dockerfile line %d: %w", in.line, err)
			}
			for _, w := range words {
				name, def, hasDef := strings.Cut(w, "=")
				var val string
				var set bool
				switch v, ok := buildArgs[name]; {
				case ok:
					val, set = v, true
				case hasDef:
					val, err = expand(def, escape, lookup)
					if err != nil {
						return nil, fmt.Errorf("Dockerfile line %d: %w", in.line, err)
					}
					set = true
				case sawFrom:
					val, set = meta[name]
				}
				if set {
					env[name] = val
				}
			}
		case "ENV":
			if !sawFrom {
				continue
			}
			words, err := splitWords(in.rest, escape)
			if err != nil || len(words) == 0 {
				continue
			}
			if !strings.Contains(words[0], "=") { // legacy "ENV key value"
				key, value, _ := strings.Cut(in.rest, " ")
				v, err := expand(strings.TrimSpace(value), escape, lookup)
				if err == nil {
					env[strings.TrimSpace(key)] = v
				}
				continue
			}
			for _, w := range words {
				if k, v, ok := strings.Cut(w, "="); ok {
					if v, err := expand(v, escape, lookup); err == nil {
						env[k] = v
					}
				}
			}
		case "FROM":
			sawFrom = true
			words := strings.Fields(in.rest)
			var name, alias string
			for i := 0; i < len(words); i++ {
				w := words[i]
				if strings.HasPrefix(w, "--") && name == "" {
					continue // --platform=...
				}
				if name == "" {
					name = w
					continue
				}
				if strings.EqualFold(w, "AS") && i+1 < len(words) {
					alias = words[i+1]
				}
				break
			}
			if name == "" {
				return nil, fmt.Errorf("Dockerfile line %d: FROM without an image", in.line)
			}
			ref, err := expand(name, escape, func(n string) (string, bool) { v, ok := meta[n]; return v, ok })
			if err != nil {
				return nil, fmt.Errorf("Dockerfile line %d (%s): %w", in.line, u.Text, err)
			}
			if !strings.EqualFold(ref, "scratch") && !isStage(ref) {
				u.Refs = []string{ref}
				uses = append(uses, u)
			}
			stages = append(stages, alias)
			stageEnv = map[string]string{}
		case "COPY", "ADD", "RUN":
			for _, w := range strings.Fields(in.rest) {
				if !strings.HasPrefix(w, "--") {
					break // flags come first
				}
				var raw string
				switch flag, value, _ := strings.Cut(w, "="); {
				case flag == "--from" && in.cmd != "RUN":
					raw = value
				case flag == "--mount" && in.cmd == "RUN":
					for _, opt := range strings.Split(value, ",") {
						if k, v, ok := strings.Cut(opt, "="); ok && strings.EqualFold(strings.TrimSpace(k), "from") {
							raw = strings.TrimSpace(v)
						}
					}
				}
				if raw == "" {
					continue
				}
				candidates := []string{unquote(raw)}
				if v, err := expand(raw, escape, lookup); err != nil {
					return nil, fmt.Errorf("Dockerfile line %d (%s): %w", in.line, u.Text, err)
				} else if v != candidates[0] {
					candidates = append(candidates, v)
				}
				var refs []string
				for _, c := range candidates {
					if c != "" && !isStage(c) && !strings.EqualFold(c, "scratch") {
						refs = append(refs, c)
					}
				}
				if len(refs) > 0 {
					uses = append(uses, imageUse{Line: u.Line, Text: u.Text, Refs: refs})
				}
			}
		}
	}
	return uses, nil
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		return string(r[:120]) + "…"
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// splitWords splits on white space outside quotes, keeping the quotes (the
// words are expanded afterwards).
func splitWords(s string, escape rune) ([]string, error) {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == escape && quote != '\'':
			cur.WriteRune(r)
			escaped, inWord = true, true
		case quote != 0:
			cur.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			cur.WriteRune(r)
			quote, inWord = r, true
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// expand does the engine's word processing: quotes removed, the escape
// character taken literally, $NAME and ${NAME} substituted, with the
// ${NAME:-word}, ${NAME-word}, ${NAME:+word} and ${NAME+word} forms. Other
// forms (pattern removal, replacement) are refused: a base image that
// cannot be computed here cannot be checked.
func expand(word string, escape rune, lookup func(string) (string, bool)) (string, error) {
	rs := []rune(word)
	var out strings.Builder
	var quote rune
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				out.WriteRune(r)
			}
		case r == escape:
			if i+1 < len(rs) {
				i++
				if quote == '"' && rs[i] != '$' && rs[i] != '"' && rs[i] != escape {
					out.WriteRune(r) // inside double quotes only these are escaped
				}
				out.WriteRune(rs[i])
			} else {
				out.WriteRune(r)
			}
		case r == '"':
			if quote == '"' {
				quote = 0
			} else {
				quote = '"'
			}
		case r == '\'' && quote == 0:
			quote = '\''
		case r == '$':
			v, n, err := expandVar(rs[i+1:], escape, lookup)
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			i += n
		default:
			out.WriteRune(r)
		}
	}
	if quote != 0 {
		return "", errors.New("unterminated quote")
	}
	return out.String(), nil
}

func isNameRune(r rune, first bool) bool {
	return r == '_' || unicode.IsLetter(r) && r < 128 || !first && r >= '0' && r <= '9'
}

// expandVar expands what follows a '$' and returns how many runes it used.
func expandVar(rs []rune, escape rune, lookup func(string) (string, bool)) (string, int, error) {
	if len(rs) == 0 {
		return "$", 0, nil
	}
	if rs[0] != '{' {
		n := 0
		for n < len(rs) && isNameRune(rs[n], n == 0) {
			n++
		}
		if n == 0 {
			return "$", 0, nil
		}
		v, _ := lookup(string(rs[:n]))
		return v, n, nil
	}
	// ${...}: find the matching brace.
	depth, end := 0, -1
	for j := 0; j < len(rs); j++ {
		switch rs[j] {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth == 0 {
			end = j
			break
		}
	}
	if end < 0 {
		return "", 0, errors.New("missing '}' in a variable")
	}
	inner := rs[1:end]
	n := 0
	for n < len(inner) && isNameRune(inner[n], n == 0) {
		n++
	}
	if n == 0 {
		return "", 0, fmt.Errorf("bad variable ${%s}", string(inner))
	}
	name, op := string(inner[:n]), string(inner[n:])
	val, set := lookup(name)
	var opName, word string
	for _, o := range []string{":-", ":+", "-", "+"} {
		if strings.HasPrefix(op, o) {
			opName, word = o, op[len(o):]
			break
		}
	}
	if op != "" && opName == "" {
		return "", 0, fmt.Errorf("the variable form ${%s} cannot be checked; use $NAME, ${NAME}, ${NAME:-default} or ${NAME:+value}", string(inner))
	}
	alt := func() (string, error) { return expand(word, escape, lookup) }
	var v string
	var err error
	switch opName {
	case "":
		v = val
	case ":-":
		v = val
		if !set || val == "" {
			v, err = alt()
		}
	case "-":
		v = val
		if !set {
			v, err = alt()
		}
	case ":+":
		if set && val != "" {
			v, err = alt()
		}
	case "+":
		if set {
			v, err = alt()
		}
	}
	return v, end + 1, err
}
