package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dokploy/db/dbtest"
)

// TestLoginBurst_MemoryStaysBounded: 100 parallel wrong sign-ins against the
// real server. Each argon2id check takes 19 MiB; unbounded, the burst would
// take ~2 GB. The server verifies at most the per account+IP limit (the rest
// get 429 before hashing), at most 4 at a time: 5 checks allocate 95 MiB in
// all, which the collector may not have returned yet, so resident memory
// grows by less than 250 MiB (the unbounded burst would take ~2 GB).
func TestLoginBurst_MemoryStaysBounded(t *testing.T) {
	dbtest.Integration(t)
	c := resNewCluster(t, dbtest.NewDatabaseURL(t), dbtest.RedisURL())
	p := c.serve(t, "serve")
	c.login(t)
	pid := p.cmd.Process.Pid

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(c.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, 64<<10)
	n, _ := res.Body.Read(page)
	res.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page[:n])
	if m == nil {
		t.Fatal("login page shows no CSRF token")
	}
	csrf := string(m[1])

	before := rssKiB(t, pid)
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rssKiB(t, pid); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	const burst = 100
	codes := make(chan int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"_csrf": {csrf}, "email": {resAdminEmail}, "password": {fmt.Sprintf("wrong-%d", i)}}
			res, err := client.Post(c.URL+"/login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				codes <- -1
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(codes)
	counts := map[int]int{}
	for code := range codes {
		counts[code]++
	}
	if counts[http.StatusUnauthorized] > 5 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != burst {
		t.Errorf("answers %v: want at most 5 × 401 and the rest 429", counts)
	}
	growth := (peak - before) / 1024
	t.Logf("RSS %d MiB before, peak %d MiB during the burst (+%d MiB); answers %v", before/1024, peak/1024, growth, counts)
	if growth >= 250 {
		t.Errorf("RSS grew by %d MiB during the burst, want < 250", growth)
	}
}

// rssKiB reads VmRSS of a process.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
