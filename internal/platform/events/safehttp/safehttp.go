// Package safehttp sends requests to URLs that API clients chose (webhook
// endpoints, automation calls) without letting them reach inside the
// network Mainstay runs in.
//
// The check that matters happens at connect time: the dialer's Control
// function sees the address actually being connected to, after DNS, so a
// name that resolves to a private address — or re-resolves to one after a
// first harmless answer (DNS rebinding) — is refused. URLs are also checked
// when they are registered, to give the client a clear 422 early, but that
// check is a courtesy, not the defence.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Options configure a Client.
type Options struct {
	// AllowLoopback permits plain http and connections to loopback
	// addresses (127.0.0.0/8, ::1) — for development against a receiver
	// on the same machine. Every other refused range stays refused.
	AllowLoopback bool
	// ConnectTimeout bounds the TCP (and TLS) handshake; Timeout the whole
	// exchange, body included.
	ConnectTimeout, Timeout time.Duration
	// MaxResponse is how much of a response body is read; the rest is
	// discarded unread.
	MaxResponse int64
	// Resolver looks names up; nil is the system resolver. Tests give one
	// that answers what they need (a name resolving to a private address).
	Resolver Resolver
}

// Resolver resolves a host name to addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrRefused marks a destination refused by policy.
var ErrRefused = errors.New("destination refused")

// refused ranges beyond what netip's predicates cover.
var refusedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network"; 0.0.0.0 reaches the local host
		"100.64.0.0/10",      // carrier-grade NAT, often internal
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"240.0.0.0/4",        // reserved
		"255.255.255.255/32", // broadcast
		"64:ff9b::/96",       // NAT64: embeds an IPv4 address
		"64:ff9b:1::/48",     // local NAT64
		"2001:db8::/32",      // documentation
		"2002::/16",          // 6to4: embeds an IPv4 address
		"fec0::/10",          // deprecated site-local
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// CheckAddr says whether a connection to ip may be made. IPv4-mapped IPv6
// addresses (::ffff:10.0.0.1) are judged as the IPv4 address they carry.
func CheckAddr(ip netip.Addr, allowLoopback bool) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: no address", ErrRefused)
	case ip.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrRefused, ip)
	case ip.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrRefused, ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		// 169.254.169.254 (cloud metadata) lives here.
		return fmt.Errorf("%w: %s is a link-local address", ErrRefused, ip)
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrRefused, ip)
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in the reserved range %s", ErrRefused, ip, p)
		}
	}
	return nil
}

// CheckURL checks a URL a client wants to register: absolute https (http
// only to a loopback host when allowed), no credentials, a host written
// plainly. Numeric hosts are judged by CheckAddr; names are judged at
// connect time.
func CheckURL(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; authenticate the request by its signature")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	// Judge the host as resolvers will read it: case and compatibility
	// forms folded (ＬＯＣＡＬＨＯＳＴ, ⓛocalhost), a trailing dot dropped.
	host := strings.TrimSuffix(strings.ToLower(norm.NFKC.String(u.Hostname())), ".")
	if host == "" {
		return errors.New("must name a host")
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := CheckAddr(ip, allowLoopback); err != nil {
			return err
		}
	} else if looksNumeric(host) {
		// 2130706433, 0x7f.1, 017700000001: forms some resolvers read as
		// IPv4 addresses. Go's does not, but the URL may be handed to
		// other software; refuse the ambiguity.
		return fmt.Errorf("%w: %q is an IP address in a non-standard form; write it as a dotted quad", ErrRefused, host)
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !allowLoopback {
			return fmt.Errorf("%w: %s is a loopback name", ErrRefused, host)
		}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowLoopback && isLoopbackHost(host) {
			return nil
		}
		if allowLoopback {
			return errors.New("must use https (plain http is allowed only to a loopback host in development)")
		}
		return errors.New("must use https")
	default:
		return errors.New("must use https")
	}
}

func isLoopbackHost(host string) bool {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return ip.Unmap().IsLoopback()
	}
	h := strings.ToLower(host)
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// looksNumeric reports a host made only of digits, dots and hex notation,
// which inet_aton-style parsers read as an address.
func looksNumeric(host string) bool {
	h := strings.ToLower(host)
	if h == "" {
		return false
	}
	for _, part := range strings.Split(h, ".") {
		if part == "" {
			continue
		}
		p := strings.TrimPrefix(part, "0x")
		if p == "" {
			return true
		}
		for _, r := range p {
			isHex := r >= 'a' && r <= 'f'
			if !(r >= '0' && r <= '9') && !(isHex && strings.HasPrefix(part, "0x")) {
				return false
			}
		}
	}
	return true
}

// Client is an http.Client whose every connection is checked, which never
// follows redirects and whose responses are read only up to a cap.
type Client struct {
	hc   *http.Client
	opts Options
}

// New returns a Client.
func New(o Options) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = 64 << 10
	}
	allow := o.AllowLoopback
	dialer := &net.Dialer{
		Timeout: o.ConnectTimeout,
		// The defence: judge the address the socket is about to connect
		// to, whatever name or form led here.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot read %q", ErrRefused, address)
			}
			return CheckAddr(ap.Addr(), allow)
		},
	}
	dial := dialer.DialContext
	if o.Resolver != nil {
		res := o.Resolver
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return dialer.DialContext(ctx, network, addr)
			}
			ips, err := res.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			var first error
			for _, ip := range ips {
				c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				if first == nil {
					first = err
				}
			}
			if first == nil {
				first = fmt.Errorf("no addresses for %s", host)
			}
			return nil, first
		}
	}
	tr := &http.Transport{
		// No proxy from the environment: a proxy would connect on our
		// behalf and bypass the check.
		Proxy:                 nil,
		DialContext:           dial,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Client{opts: o, hc: &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Transport exposes the transport, for tests that must trust a test CA.
func (c *Client) Transport() *http.Transport { return c.hc.Transport.(*http.Transport) }

// Result is what came back.
type Result struct {
	Status   int // 0 when no response came
	Body     []byte
	Duration time.Duration
}

// Do sends req after checking its URL and returns the status and at most
// MaxResponse bytes of the body. A redirect is returned as it is, not
// followed. err is set when no response came (refused, unreachable,
// timed out).
func (c *Client) Do(req *http.Request) (Result, error) {
	start := time.Now()
	if err := CheckURL(req.URL.String(), c.opts.AllowLoopback); err != nil {
		return Result{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{Duration: time.Since(start)}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponse))
	res := Result{Status: resp.StatusCode, Body: body, Duration: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("read response: %w", err)
	}
	return res, nil
}
