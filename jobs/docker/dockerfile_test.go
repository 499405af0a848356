package docker

import (
	"reflect"
	"strings"
	"testing"
)

func TestDockerfileImages(t *testing.T) {
	type use struct {
		line int
		refs []string
	}
	tests := []struct {
		name, df string
		args     map[string]string
		want     []use
		err      string
	}{
		{name: "plain", df: "FROM alpine:3\nRUN true\n", want: []use{{1, []string{"alpine:3"}}}},
		{name: "scratch and stages", df: "FROM scratch AS base\nFROM base\nFROM Base AS two\nCOPY --from=base /a /a\nCOPY --from=0 /a /b\nCOPY --from=TWO /x /y\n"},
		{name: "later stage name is an image", df: "FROM builder\nFROM scratch AS builder\n", want: []use{{1, []string{"builder"}}}},
		{name: "platform flag and alias", df: "FROM --platform=linux/amd64 other-app:3 AS b\n", want: []use{{1, []string{"other-app:3"}}}},
		{name: "meta arg default", df: "ARG BASE=other-app\nARG TAG=7\nFROM ${BASE}:$TAG\n", want: []use{{3, []string{"other-app:7"}}}},
		{name: "build arg overrides", df: "ARG BASE=alpine\nFROM $BASE\n", args: map[string]string{"BASE": "victim:1"}, want: []use{{2, []string{"victim:1"}}}},
		{name: "undeclared arg is empty", df: "FROM victim${X}:1\n", args: map[string]string{"X": "zzz"}, want: []use{{1, []string{"victim:1"}}}},
		{name: "default forms", df: "ARG A\nARG B=b\nFROM ${A:-victim}:${B:+2}\n", want: []use{{3, []string{"victim:2"}}}},
		{name: "arg default uses earlier arg", df: "ARG A=vic\nARG B=${A}tim\nFROM $B\n", want: []use{{3, []string{"victim"}}}},
		{name: "quotes", df: "ARG A=\"vic\"'tim'\nFROM \"$A\":1\n", want: []use{{2, []string{"victim:1"}}}},
		{name: "continuation and comments", df: "# comment\nFROM \\\n# inside\n  victim:1\n", want: []use{{2, []string{"victim:1"}}}},
		{name: "escape directive", df: "# escape=`\nFROM `\n victim:2\n", want: []use{{2, []string{"victim:2"}}}},
		{name: "copy from image", df: "FROM scratch\nCOPY --chown=1 --from=victim:3 /etc /etc\n", want: []use{{2, []string{"victim:3"}}}},
		{name: "copy from stage arg", df: "FROM scratch\nARG SRC=victim:4\nCOPY --from=$SRC / /\n", want: []use{{3, []string{"$SRC", "victim:4"}}}},
		{name: "copy from env", df: "FROM scratch\nENV SRC=victim:5\nCOPY --from=${SRC} / /\n", want: []use{{3, []string{"${SRC}", "victim:5"}}}},
		{name: "run mount from", df: "FROM scratch\nRUN --mount=type=bind,from=victim:6,target=/x true\n", want: []use{{2, []string{"victim:6"}}}},
		{name: "lower-case instruction", df: "from victim:1\n", want: []use{{1, []string{"victim:1"}}}},
		{name: "crlf", df: "FROM victim:1\r\nRUN x\r\n", want: []use{{1, []string{"victim:1"}}}},
		{name: "pattern form refused", df: "ARG A=xvictim\nFROM ${A#x}\n", err: "cannot be checked"},
		{name: "empty from", df: "FROM\n", err: "FROM without an image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dockerfileImages(tt.df, tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var uses []use
			for _, u := range got {
				uses = append(uses, use{u.Line, u.Refs})
			}
			if !reflect.DeepEqual(uses, tt.want) {
				t.Errorf("uses = %v, want %v", uses, tt.want)
			}
		})
	}
}
