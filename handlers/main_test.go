package handlers

import (
	"os"
	"testing"
)

// TestMain runs the tests, unless the binary was started as
// BenchmarkSSEFanout's follower process (sseClientsEnv set) or
// BenchmarkAppPages100Open's page process (pageClientsEnv set): then it
// is that process only, and runs no test.
func TestMain(m *testing.M) {
	if job := os.Getenv(sseClientsEnv); job != "" {
		os.Exit(sseFollowerClients(job))
	}
	if job := os.Getenv(pageClientsEnv); job != "" {
		os.Exit(pageClients(job))
	}
	os.Exit(m.Run())
}
