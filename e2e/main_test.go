// Package e2e runs the real dokploy binary against real PostgreSQL, Redis
// and Docker, and drives its pages in a headless Chromium. The tests skip
// unless DOKPLOY_INTEGRATION=1; with it set, a missing service or browser
// fails them.
package e2e

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	srvRemoveBuild()
	os.Exit(code)
}
