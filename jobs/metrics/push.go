package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"dokploy/db"
)

// AgentPath is where agents push their rounds on the control plane.
const AgentPath = "/api/v1/agent/metrics"

// Push is one round an agent sends: its node's replicas and the node.
type Push struct {
	Containers []db.ContainerSample `json:"containers"`
	Nodes      []db.NodeSample      `json:"nodes"`
}

// Pusher is the Sink of `dokploy agent`: it posts each round to the
// control plane with an API token, and reads the settings from there.
type Pusher struct {
	URL    string // the control plane, like https://dokploy.example.com
	Token  string
	Client *http.Client
}

func (p *Pusher) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(p.URL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	req.Header.Set("Content-Type", "application/json")
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil {
		return json.Unmarshal(msg, out)
	}
	return nil
}

// InsertMetrics posts a round to the control plane.
func (p *Pusher) InsertMetrics(ctx context.Context, containers []db.ContainerSample, nodes []db.NodeSample) error {
	return p.do(ctx, http.MethodPost, AgentPath, Push{Containers: containers, Nodes: nodes}, nil)
}

// Settings reads the interval (and retention) from the control plane.
func (p *Pusher) Settings(ctx context.Context) (db.MetricsSettings, error) {
	var m db.MetricsSettings
	if err := p.do(ctx, http.MethodGet, "/api/v1/settings/metrics", nil, &m); err != nil {
		return db.DefaultMetricsSettings, err
	}
	if m.IntervalSeconds < 1 {
		m.IntervalSeconds = db.DefaultMetricsSettings.IntervalSeconds
	}
	return m, nil
}
