package benchpeer

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// controlClient is for everything but the timed requests: readiness,
// counts.
var controlClient = &http.Client{Timeout: 30 * time.Second}

// HTTPGet returns the body of url, sending auth (if not empty) as the
// Authorization header; anything but 200 is an error. It is for control
// requests (readiness, counts), never timed ones: its client gives up
// after 30 s.
func HTTPGet(url, auth string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.500s", url, resp.Status, body)
	}
	return body, nil
}

// WaitHTTP waits until url answers 200 (HTTPGet with auth), failing if p
// exits or timeout passes first.
func WaitHTTP(p *Proc, url, auth string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited (%v) before serving %s\n%s", p.Name, p.Err(), url, p.LogTail())
		}
		_, err := HTTPGet(url, auth)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not serve %s within %s: %v\n%s", p.Name, url, timeout, err, p.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
