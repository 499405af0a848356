package docker

import (
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	raw := "2026-01-02T15:04:05.123456789Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello\r\x1b[31mworld\tx"
	l := parseLogLine(raw)
	if l.Text != "hello[31mworld\tx" {
		t.Errorf("text %q", l.Text)
	}
	if !l.TS.Equal(time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC)) {
		t.Errorf("ts %v", l.TS)
	}
	if got := detail(raw, "com.docker.swarm.task.id"); got != "t1" {
		t.Errorf("task id %q", got)
	}
	if l := parseLogLine("no timestamp here"); l.Text != "no timestamp here" || !l.TS.IsZero() {
		t.Errorf("%+v", l)
	}
}
