package ops

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 90 * time.Second: "1m30s", time.Hour: "1h", 30 * time.Second: "30s",
		time.Hour + 30*time.Minute: "1h30m", 24 * time.Hour: "24h",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestCheckDeployLimits_BuildResources(t *testing.T) {
	values, errs := checkDeployLimits(map[string]string{"build_memory_mb": "2048", "build_cpus": "1.50"})
	if len(errs) > 0 || values["build_memory_mb"] != "2048" || values["build_cpus"] != "1.5" {
		t.Errorf("valid limits: %v %v", values, errs)
	}
	if values, errs := checkDeployLimits(map[string]string{"build_memory_mb": "0", "build_cpus": "0"}); len(errs) > 0 || values["build_memory_mb"] != "0" {
		t.Errorf("0 means no limit: %v %v", values, errs)
	}
	for key, bad := range map[string]string{"build_memory_mb": "32", "build_cpus": "-1"} {
		if _, errs := checkDeployLimits(map[string]string{key: bad}); errs[key] == "" {
			t.Errorf("%s=%s accepted", key, bad)
		}
	}
	if _, errs := checkDeployLimits(map[string]string{"build_cpus": "0.05"}); errs["build_cpus"] == "" {
		t.Error("0.05 CPUs accepted")
	}
}
