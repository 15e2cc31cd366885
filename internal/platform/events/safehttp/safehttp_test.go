package safehttp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
)

func TestCheckURL(t *testing.T) {
	refused := []string{
		// scheme
		"http://example.com/hook",
		"ftp://example.com/hook",
		"example.com/hook",
		"//example.com/hook",
		"https:///hook",
		// credentials
		"https://user:pass@example.com/hook",
		"https://user@example.com/hook",
		// fragment
		"https://example.com/hook#x",
		// loopback, private, link-local, metadata
		"https://127.0.0.1/x",
		"https://127.1.2.3/x",
		"https://10.0.0.1/x",
		"https://172.16.5.4/x",
		"https://192.168.1.1/x",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::1]/x",
		"https://[fe80::1]/x",
		"https://[fe80::1%25eth0]/x",
		"https://[fd00::1]/x",
		"https://[fd00:ec2::254]/x",
		// IPv6-mapped IPv4
		"https://[::ffff:127.0.0.1]/x",
		"https://[::ffff:169.254.169.254]/x",
		"https://[::ffff:10.0.0.1]/x",
		"https://[::ffff:7f00:1]/x",
		// unspecified, CGNAT, reserved, multicast, NAT64
		"https://0.0.0.0/x",
		"https://[::]/x",
		"https://100.64.0.1/x",
		"https://224.0.0.1/x",
		"https://255.255.255.255/x",
		"https://[64:ff9b::a9fe:a9fe]/x",
		// non-standard numeric forms of 127.0.0.1
		"https://2130706433/x",
		"https://017700000001/x",
		"https://0177.0.0.1/x",
		"https://0x7f000001/x",
		"https://0X7F000001/x",
		"https://0x7f.0.0.1/x",
		"https://127.1/x",
		"https://127.0.0.1./x",
		// a non-standard form of 169.254.169.254
		"https://2852039166/x",
		// loopback names
		"https://localhost/x",
		"https://LocalHost:8443/x",
		"https://api.localhost/x",
		"http://localhost/x",
	}
	for _, u := range refused {
		t.Run("refused "+u, func(t *testing.T) {
			if err := safehttp.CheckURL(u, false); err == nil {
				t.Errorf("CheckURL(%q) accepted", u)
			}
		})
	}
	accepted := []string{
		"https://example.com/hook",
		"https://example.com:8443/hook?x=1",
		"https://93.184.215.14/x",
		"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x",
		"https://hooks.example.org/a/b",
	}
	for _, u := range accepted {
		t.Run("accepted "+u, func(t *testing.T) {
			if err := safehttp.CheckURL(u, false); err != nil {
				t.Errorf("CheckURL(%q) = %v", u, err)
			}
		})
	}

	// Refusals for an address say why in a way callers can test for.
	if err := safehttp.CheckURL("https://169.254.169.254/", false); !errors.Is(err, safehttp.ErrRefused) {
		t.Errorf("metadata address: %v, want ErrRefused", err)
	}
	if err := safehttp.CheckURL("https://2130706433/", false); !errors.Is(err, safehttp.ErrRefused) {
		t.Errorf("decimal address: %v, want ErrRefused", err)
	}

	// AllowLoopback: http to loopback hosts only; every other range stays refused.
	for _, u := range []string{
		"http://127.0.0.1:8080/hook", "http://localhost:8080/hook", "http://[::1]:8080/hook",
		"https://127.0.0.1/hook", "https://localhost/hook", "http://[::ffff:127.0.0.1]/x",
	} {
		if err := safehttp.CheckURL(u, true); err != nil {
			t.Errorf("AllowLoopback: CheckURL(%q) = %v", u, err)
		}
	}
	for _, u := range []string{
		"http://example.com/hook", "http://10.0.0.1/x", "https://10.0.0.1/x", "https://169.254.169.254/x",
		"https://[fd00::1]/x", "https://0.0.0.0/x", "http://0.0.0.0/x", "https://2130706433/x",
		"https://user:pw@127.0.0.1/x", "http://[::ffff:169.254.169.254]/x",
	} {
		if err := safehttp.CheckURL(u, true); err == nil {
			t.Errorf("AllowLoopback: CheckURL(%q) accepted", u)
		}
	}
}

// Other spellings of a loopback name: fully qualified ("localhost." with
// the root dot), and Unicode that IDNA maps to "localhost" (net/http sends
// "ⓛocalhost" as "localhost"). The connect-time check still refuses them
// (TestConnectTimeRefusesLoopbackNameSpellings), but the registration
// check should give the early 422 it promises.
func TestCheckURLLoopbackNameSpellings(t *testing.T) {
	for _, u := range []string{"https://localhost./x", "https://api.localhost./x", "https://ⓛocalhost/x", "https://ＬＯＣＡＬＨＯＳＴ/x"} {
		if err := safehttp.CheckURL(u, false); err == nil {
			t.Errorf("BUG: CheckURL(%q) accepted: this spelling of a loopback name passes the registration check (safehttp.go CheckURL: map the host with IDNA (idna.Lookup.ToASCII) and strip a trailing '.' before comparing with localhost)", u)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	cases := []struct {
		addr          string
		allowLoopback bool
		ok            bool
	}{
		{"127.0.0.1", false, false},
		{"127.0.0.1", true, true},
		{"127.255.255.254", false, false},
		{"::1", false, false},
		{"::1", true, true},
		{"::ffff:127.0.0.1", false, false},
		{"::ffff:127.0.0.1", true, true},
		{"10.0.0.1", false, false},
		{"10.0.0.1", true, false},
		{"::ffff:10.0.0.1", true, false},
		{"172.16.5.4", false, false},
		{"172.31.255.255", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false},
		{"169.254.169.254", true, false},
		{"::ffff:169.254.169.254", true, false},
		{"fe80::1", false, false},
		{"fe80::1%eth0", false, false},
		{"fd00::1", false, false},
		{"fd00:ec2::254", true, false},
		{"fc00::1", false, false},
		{"0.0.0.0", false, false},
		{"0.0.0.0", true, false},
		{"0.1.2.3", false, false},
		{"::", true, false},
		{"100.64.0.1", false, false},
		{"100.127.255.254", false, false},
		{"::ffff:100.64.0.1", false, false},
		{"::ffff:0.0.0.0", true, false},
		{"::ffff:192.0.2.1", false, false},
		{"::ffff:240.0.0.1", false, false},
		{"224.0.0.1", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
		{"192.0.0.170", false, false},
		{"64:ff9b::a9fe:a9fe", false, false}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::", false, false},      // 6to4 of 127.0.0.1
		{"fec0::1", false, false},
		// public
		{"93.184.215.14", false, true},
		{"8.8.8.8", false, true},
		{"::ffff:8.8.8.8", false, true},
		{"2606:4700:4700::1111", false, true},
		{"100.128.0.1", false, true},
		{"172.32.0.1", false, true},
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.addr)
		err := safehttp.CheckAddr(ip, c.allowLoopback)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%s, allowLoopback=%v) = %v, want ok=%v", c.addr, c.allowLoopback, err, c.ok)
		}
		if err != nil && !errors.Is(err, safehttp.ErrRefused) {
			t.Errorf("CheckAddr(%s) = %v, not ErrRefused", c.addr, err)
		}
	}
	if err := safehttp.CheckAddr(netip.Addr{}, true); !errors.Is(err, safehttp.ErrRefused) {
		t.Errorf("zero address: %v", err)
	}
}

// resolver answers from a table, and counts lookups.
type resolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr // successive answers; the last repeats
	calls   map[string]int
}

func newResolver() *resolver {
	return &resolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

func (r *resolver) set(host string, answers ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]netip.Addr
	for _, a := range answers {
		var ips []netip.Addr
		for _, s := range strings.Split(a, ",") {
			ips = append(ips, netip.MustParseAddr(s))
		}
		out = append(out, ips)
	}
	r.answers[host] = out
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(a)-1)
	r.calls[host]++
	return a[i], nil
}

// counted is a local receiver that counts the requests it gets.
type counted struct {
	hits atomic.Int64
	srv  *httptest.Server
}

func newServer(t *testing.T, useTLS bool, h http.HandlerFunc) *counted {
	t.Helper()
	c := &counted{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		// Read the body, so that the server notices a client going away
		// (r.Context ends) while a handler waits.
		_, _ = io.Copy(io.Discard, r.Body)
		if h != nil {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if useTLS {
		c.srv = httptest.NewTLSServer(handler)
	} else {
		c.srv = httptest.NewServer(handler)
	}
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counted) port() string {
	u, _ := url.Parse(c.srv.URL)
	return u.Port()
}

// trust makes client trust srv's test certificate, for the name
// example.com (in the certificate), whatever host the URL names.
func trust(client *safehttp.Client, srv *httptest.Server) {
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.ServerName = "example.com"
	client.Transport().TLSClientConfig = cfg
}

func post(t *testing.T, c *safehttp.Client, u string) (safehttp.Result, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

// A name that resolves to a refused address is refused when connecting,
// and the address behind it never sees a packet.
func TestConnectTimeRefusesNamesResolvingInside(t *testing.T) {
	for _, target := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "::1"} {
		t.Run(target, func(t *testing.T) {
			srv := newServer(t, true, nil)
			res := newResolver()
			res.set("internal.example", target)
			c := safehttp.New(safehttp.Options{Resolver: res, ConnectTimeout: time.Second, Timeout: 2 * time.Second})
			trust(c, srv.srv)
			u := "https://internal.example:" + srv.port() + "/hook"
			if err := safehttp.CheckURL(u, false); err != nil {
				t.Fatalf("the registration check cannot judge a name, yet refused it: %v", err)
			}
			start := time.Now()
			r, err := post(t, c, u)
			if !errors.Is(err, safehttp.ErrRefused) {
				t.Fatalf("Do = %+v, %v; want an error wrapping ErrRefused", r, err)
			}
			if r.Status != 0 {
				t.Errorf("status %d from a refused destination", r.Status)
			}
			if time.Since(start) > time.Second {
				t.Errorf("refusal took %v: the dial should not have been attempted", time.Since(start))
			}
			if n := srv.hits.Load(); n != 0 {
				t.Fatalf("the internal server received %d requests", n)
			}
			res.mu.Lock()
			calls := res.calls["internal.example"]
			res.mu.Unlock()
			if calls == 0 {
				t.Fatal("the test resolver was not consulted")
			}
		})
	}
}

// Every address of an answer is judged: a refused one is not dialled even
// when it comes after another refused one.
func TestConnectTimeRefusesEveryAnsweredAddress(t *testing.T) {
	srv := newServer(t, true, nil)
	res := newResolver()
	res.set("internal.example", "10.1.2.3,192.168.0.1,127.0.0.1")
	c := safehttp.New(safehttp.Options{Resolver: res, ConnectTimeout: time.Second})
	trust(c, srv.srv)
	_, err := post(t, c, "https://internal.example:"+srv.port()+"/hook")
	if !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if srv.hits.Load() != 0 {
		t.Fatal("reached the loopback server")
	}
}

// DNS rebinding: the name answered a harmless public address when it was
// looked at (registration, a first delivery), then answers loopback. What
// is checked is the address dialled at connect time.
func TestConnectTimeDefeatsDNSRebinding(t *testing.T) {
	srv := newServer(t, true, nil)
	res := newResolver()
	res.set("rebind.example", "93.184.215.14", "127.0.0.1")
	// The first answer: what a check at registration (or a proxying
	// validator) would have seen.
	first, err := res.LookupNetIP(context.Background(), "ip", "rebind.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range first {
		if err := safehttp.CheckAddr(ip, false); err != nil {
			t.Fatalf("the first answer %s should look harmless: %v", ip, err)
		}
	}
	c := safehttp.New(safehttp.Options{Resolver: res, ConnectTimeout: time.Second})
	trust(c, srv.srv)
	u := "https://rebind.example:" + srv.port() + "/hook"
	if err := safehttp.CheckURL(u, false); err != nil {
		t.Fatal(err)
	}
	_, err = post(t, c, u)
	if !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused: the rebound loopback answer was dialled", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("the refusal should name the address dialled: %v", err)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("rebinding reached the loopback server (%d requests)", n)
	}
}

// The control case: with AllowLoopback the same set-up does reach the
// server, so the refusals above are the policy, not a broken test.
func TestAllowLoopbackReachesLoopback(t *testing.T) {
	t.Run("name via resolver over https", func(t *testing.T) {
		srv := newServer(t, true, nil)
		res := newResolver()
		res.set("internal.example", "127.0.0.1")
		c := safehttp.New(safehttp.Options{Resolver: res, AllowLoopback: true, ConnectTimeout: time.Second})
		trust(c, srv.srv)
		r, err := post(t, c, "https://internal.example:"+srv.port()+"/hook")
		if err != nil || r.Status != http.StatusNoContent {
			t.Fatalf("Do = %+v, %v", r, err)
		}
		if srv.hits.Load() != 1 {
			t.Fatalf("%d hits, want 1", srv.hits.Load())
		}
	})
	t.Run("plain http to 127.0.0.1", func(t *testing.T) {
		srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
		c := safehttp.New(safehttp.Options{AllowLoopback: true})
		r, err := post(t, c, srv.srv.URL+"/hook")
		if err != nil || r.Status != 200 || string(r.Body) != "ok" {
			t.Fatalf("Do = %+v, %v", r, err)
		}
		// Without the flag the same URL is refused, and not reached.
		strict := safehttp.New(safehttp.Options{})
		if _, err := post(t, strict, srv.srv.URL+"/hook"); err == nil {
			t.Fatal("plain http to loopback accepted without AllowLoopback")
		}
		if srv.hits.Load() != 1 {
			t.Fatalf("%d hits, want 1", srv.hits.Load())
		}
	})
	t.Run("AllowLoopback does not open private ranges", func(t *testing.T) {
		srv := newServer(t, true, nil)
		res := newResolver()
		res.set("internal.example", "10.0.0.1")
		c := safehttp.New(safehttp.Options{Resolver: res, AllowLoopback: true, ConnectTimeout: time.Second})
		trust(c, srv.srv)
		if _, err := post(t, c, "https://internal.example:"+srv.port()+"/hook"); !errors.Is(err, safehttp.ErrRefused) {
			t.Fatalf("err = %v, want ErrRefused", err)
		}
	})
}

// Without a test resolver, the system resolver's answer is checked too:
// spellings of localhost that the registration check lets through
// resolve to loopback and are refused at connect time, and the server is
// not reached.
func TestConnectTimeRefusesLoopbackNameSpellings(t *testing.T) {
	for _, host := range []string{"ⓛocalhost", "localhost."} {
		t.Run(host, func(t *testing.T) {
			srv := newServer(t, true, nil)
			c := safehttp.New(safehttp.Options{ConnectTimeout: time.Second})
			trust(c, srv.srv)
			_, err := post(t, c, "https://"+host+":"+srv.port()+"/hook")
			if err == nil {
				t.Fatalf("reached %s", host)
			}
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				t.Skipf("this machine does not resolve %s: %v", host, err)
			}
			if !errors.Is(err, safehttp.ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
			if srv.hits.Load() != 0 {
				t.Fatal("loopback server reached")
			}
		})
	}
}

// Redirects are returned, not followed: a receiver cannot bounce the
// request to the metadata service or to another internal host.
func TestRedirectsAreNotFollowed(t *testing.T) {
	target := newServer(t, false, nil)
	for _, loc := range []string{
		"http://169.254.169.254/latest/meta-data/",
		target.srv.URL + "/internal",
	} {
		t.Run(loc, func(t *testing.T) {
			for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				redirector := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, loc, code)
				})
				c := safehttp.New(safehttp.Options{AllowLoopback: true, ConnectTimeout: time.Second, Timeout: 2 * time.Second})
				r, err := post(t, c, redirector.srv.URL+"/hook")
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if r.Status != code {
					t.Fatalf("status %d, want %d (the redirect itself)", r.Status, code)
				}
				if redirector.hits.Load() != 1 {
					t.Fatalf("redirector hit %d times", redirector.hits.Load())
				}
			}
			if n := target.hits.Load(); n != 0 {
				t.Fatalf("the redirect target received %d requests", n)
			}
		})
	}
}

func TestResponseBodyIsCapped(t *testing.T) {
	const mib = 1 << 20
	srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(mib))
		chunk := []byte(strings.Repeat("a", 4096))
		for i := 0; i < mib/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	for _, max := range []int64{1000, 64 << 10} {
		c := safehttp.New(safehttp.Options{AllowLoopback: true, MaxResponse: max})
		r, err := post(t, c, srv.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || int64(len(r.Body)) != max {
			t.Fatalf("MaxResponse %d: status %d, %d bytes read", max, r.Status, len(r.Body))
		}
	}
	// The default cap is 64 KiB.
	c := safehttp.New(safehttp.Options{AllowLoopback: true})
	r, err := post(t, c, srv.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Body) > 64<<10 {
		t.Fatalf("default cap: %d bytes read", len(r.Body))
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	t.Run("no response header", func(t *testing.T) {
		srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		c := safehttp.New(safehttp.Options{AllowLoopback: true, Timeout: 300 * time.Millisecond})
		start := time.Now()
		r, err := post(t, c, srv.srv.URL)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("Do = %+v, no error from a server that never answers", r)
		}
		if r.Status != 0 {
			t.Errorf("status %d", r.Status)
		}
		if took > 2*time.Second {
			t.Fatalf("timed out after %v, want about 300ms", took)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		srv := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-release:
					return
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		c := safehttp.New(safehttp.Options{AllowLoopback: true, Timeout: 300 * time.Millisecond, MaxResponse: 1 << 20})
		start := time.Now()
		_, err := post(t, c, srv.srv.URL)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("a trickling body held the request %v", took)
		}
		if err == nil {
			t.Fatal("no error from a body that never ends")
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		// A listener that never accepts still completes TCP handshakes
		// (backlog); a TLS handshake then stalls until ConnectTimeout.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c := safehttp.New(safehttp.Options{AllowLoopback: true, ConnectTimeout: 200 * time.Millisecond, Timeout: 5 * time.Second})
		c.Transport().TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		start := time.Now()
		_, err = post(t, c, "https://"+l.Addr().String()+"/")
		if err == nil {
			t.Fatal("no error")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("TLS handshake stalled %v, want about ConnectTimeout", took)
		}
	})
}

// Do checks the URL itself, so a caller that skipped CheckURL is covered.
func TestDoChecksTheURL(t *testing.T) {
	srv := newServer(t, false, nil)
	c := safehttp.New(safehttp.Options{AllowLoopback: true})
	u, _ := url.Parse(srv.srv.URL)
	for _, bad := range []string{
		"http://user:pw@" + u.Host + "/",
		"ftp://" + u.Host + "/",
		"http://2130706433:" + u.Port() + "/",
	} {
		if _, err := post(t, c, bad); err == nil {
			t.Errorf("Do(%q) sent", bad)
		}
	}
	if srv.hits.Load() != 0 {
		t.Fatalf("%d hits", srv.hits.Load())
	}
}

// A proxy from the environment would connect on the client's behalf and
// bypass the dialer's check: it must be ignored.
func TestEnvironmentProxyIgnored(t *testing.T) {
	proxy := newServer(t, false, nil)
	t.Setenv("HTTP_PROXY", proxy.srv.URL)
	t.Setenv("HTTPS_PROXY", proxy.srv.URL)
	t.Setenv("NO_PROXY", "")
	res := newResolver()
	res.set("internal.example", "10.0.0.1")
	c := safehttp.New(safehttp.Options{Resolver: res, ConnectTimeout: time.Second})
	if c.Transport().Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
	c.Transport().TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	if _, err := post(t, c, "https://internal.example/hook"); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if proxy.hits.Load() != 0 {
		t.Fatal("the request went through the environment's proxy")
	}
}
