package compose

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// envVar is one line of an env file; value is nil for a bare "KEY", which
// takes its value from the stack's env like an environment entry would.
type envVar struct {
	key   string
	value *string
}

// parseEnvFile reads KEY=VALUE lines the way `docker compose` does: blank
// lines and '#' comments are skipped, "export " is allowed, values may be
// single-quoted (literal) or double-quoted (with \n, \t, \" and \\
// escapes), and an unquoted value ends at " #".
func parseEnvFile(data []byte) ([]envVar, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("the file is not UTF-8 text")
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	var vars []envVar
	for i, line := range strings.Split(string(data), "\n") {
		v, ok, err := parseEnvLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if ok {
			vars = append(vars, v)
		}
	}
	return vars, nil
}

// parseEnvLine parses one line; ok is false for a blank or comment line.
func parseEnvLine(line string) (envVar, bool, error) {
	line = strings.TrimSuffix(line, "\r")
	line = strings.TrimLeftFunc(line, unicode.IsSpace)
	if line == "" || strings.HasPrefix(line, "#") {
		return envVar{}, false, nil
	}
	line = strings.TrimPrefix(line, "export ")
	key, raw, hasValue := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsFunc(key, unicode.IsSpace) {
		return envVar{}, false, fmt.Errorf("%q is not a KEY=VALUE line", line)
	}
	if !hasValue {
		return envVar{key: key}, true, nil
	}
	value, err := envValue(strings.TrimSpace(raw))
	if err != nil {
		return envVar{}, false, fmt.Errorf("%s: %w", key, err)
	}
	return envVar{key: key, value: &value}, true, nil
}

// envValue unquotes a value.
func envValue(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.Index(raw[1:], "'")
		if end < 0 {
			return "", fmt.Errorf("the quote ' is not closed on the same line")
		}
		return raw[1 : 1+end], nil
	case strings.HasPrefix(raw, `"`):
		return doubleQuoted(raw[1:])
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimSpace(raw), nil
}

// doubleQuoted reads a double-quoted value up to its closing quote.
func doubleQuoted(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf(`the quote " is not closed on the same line`)
}
