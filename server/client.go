package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The client's address and scheme behind reverse proxies.
//
// A request's peer is the connection's remote address. When the peer is a
// trusted proxy (Server.TrustedProxies), the client is read from the
// forwarding headers: Forwarded (RFC 7239) if present, X-Forwarded-For
// otherwise, walked from the nearest hop outwards, skipping trusted proxies;
// the first address that is not a trusted proxy is the client. The scheme
// is the nearest hop's proto (Forwarded proto= or X-Forwarded-Proto). The
// middleware then rewrites r.RemoteAddr to the client's address and leaves
// one X-Forwarded-Proto header with the resolved scheme. A peer that is not
// a trusted proxy has its forwarding headers removed: nobody can choose the
// address their requests are rate limited under, nor claim https.

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses the address part of a RemoteAddr.
func peerAddr(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// resolveClient rewrites r.RemoteAddr and X-Forwarded-Proto as the package
// comment says.
func (s *Server) resolveClient(r *http.Request) {
	h := r.Header
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok || !s.trusted(peer) {
		h.Del("Forwarded")
		h.Del("X-Forwarded-For")
		h.Del("X-Forwarded-Proto")
		h.Del("X-Forwarded-Host")
		return
	}
	hops, protos := forwardedHops(h)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := peerAddr(hops[i])
		if !ok {
			break // an unreadable hop: trust nothing beyond it
		}
		client = a
		if !s.trusted(a) {
			break
		}
	}
	scheme := ""
	if len(protos) > 0 {
		switch p := strings.ToLower(strings.TrimSpace(protos[len(protos)-1])); p {
		case "http", "https":
			scheme = p
		}
	}
	h.Del("Forwarded")
	h.Del("X-Forwarded-For")
	h.Del("X-Forwarded-Host")
	h.Del("X-Forwarded-Proto")
	if scheme != "" {
		h.Set("X-Forwarded-Proto", scheme)
	}
	r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
}

// forwardedHops reads the hop addresses (farthest first) and protos from
// Forwarded, or from X-Forwarded-For and X-Forwarded-Proto when there is no
// Forwarded header.
func forwardedHops(h http.Header) (hops, protos []string) {
	if fw := h.Values("Forwarded"); len(fw) > 0 {
		for _, line := range fw {
			for _, elem := range strings.Split(line, ",") {
				for _, pair := range strings.Split(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if !ok {
						continue
					}
					v = strings.Trim(v, `"`)
					switch strings.ToLower(k) {
					case "for":
						// "[2001:db8::1]:4711" or "192.0.2.1:80" or "192.0.2.1".
						if strings.HasPrefix(v, "[") {
							if end := strings.IndexByte(v, ']'); end > 0 {
								v = v[1:end]
							}
						} else if host, _, err := net.SplitHostPort(v); err == nil {
							v = host
						}
						hops = append(hops, v)
					case "proto":
						protos = append(protos, v)
					}
				}
			}
		}
		return hops, protos
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for _, a := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(a))
		}
	}
	for _, line := range h.Values("X-Forwarded-Proto") {
		for _, p := range strings.Split(line, ",") {
			protos = append(protos, strings.TrimSpace(p))
		}
	}
	return hops, protos
}

// ClientKey is the key a per-client rate limit counts a request under: the
// client's address as the middleware resolved it, or for IPv6 its /64
// network (one subscriber's allocation, which holds more addresses than any
// limit could count one by one).
func ClientKey(r *http.Request) string {
	a, ok := peerAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
