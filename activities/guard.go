package activities

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Allowlist names destinations an operator trusts: hosts or IP ranges that
// may be reached over plain http and at private, loopback or link-local
// addresses (tests, local development, internal services on purpose).
type Allowlist struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

// ParseAllowlist reads entries such as "127.0.0.1", "10.0.0.0/8" or
// "hooks.internal".
func ParseAllowlist(entries []string) (Allowlist, error) {
	a := Allowlist{hosts: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(strings.ToLower(e))
		if e == "" {
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if strings.ContainsAny(e, "/: ") {
			return Allowlist{}, fmt.Errorf("allowlist entry %q: not a host, IP or CIDR range", e)
		}
		a.hosts[e] = true
	}
	return a, nil
}

func (a Allowlist) hostAllowed(host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if a.hosts[host] {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return a.ipAllowed(ip)
	}
	return false
}

func (a Allowlist) ipAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// refusedRule names why an address is not reachable without allowlisting,
// or "" when it is a public address.
func refusedRule(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata lives here)"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip == netip.MustParseAddr("100.100.100.200"), ip == netip.MustParseAddr("fd00:ec2::254"):
		return "a cloud metadata address"
	case netip.MustParsePrefix("100.64.0.0/10").Contains(ip):
		return "a shared (carrier-grade NAT) address"
	}
	return ""
}

// RefusedError is a destination the SSRF guard will not connect to. It is
// not retried: the same address would be refused again.
type RefusedError struct {
	Addr string
	Rule string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("destination %s is %s, refused unless the worker allowlists it (--allow-host)", e.Addr, e.Rule)
}

// dialer dials through the guard: a host the operator allowlisted by name
// may resolve to any address (an internal service on purpose, a container
// on a private network); every other destination is checked on the address
// actually dialled.
func (a Allowlist) dialer(connect time.Duration) func(ctx context.Context, network, address string) (net.Conn, error) {
	guarded := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second, Control: a.control}
	trusted := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(address); err == nil && a.hosts[strings.ToLower(host)] {
			return trusted.DialContext(ctx, network, address)
		}
		return guarded.DialContext(ctx, network, address)
	}
}

// control runs after DNS resolution, on the very address about to be
// dialled, so a name that resolves to an internal address (or re-resolves
// to one: DNS rebinding) is refused too.
func (a Allowlist) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &RefusedError{Addr: host, Rule: "not an IP address"}
	}
	if rule := refusedRule(ip); rule != "" && !a.ipAllowed(ip) {
		return &RefusedError{Addr: ip.String(), Rule: rule}
	}
	return nil
}
