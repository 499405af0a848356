package handlers

import (
	"os"
	"testing"
)

// TestMain runs the tests, unless the binary was started as
// BenchmarkSSEFanout's follower process (sseClientsEnv set): then it is
// that process only, and runs no test.
func TestMain(m *testing.M) {
	if job := os.Getenv(sseClientsEnv); job != "" {
		os.Exit(sseFollowerClients(job))
	}
	os.Exit(m.Run())
}
