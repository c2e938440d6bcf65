package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// KeyFilter is a measurement's ignore_keys: the sources whose lines are
// not counted (Spade's home network, fail2ban's ignoreip). It holds
// addresses and networks, matched against a key that is an IPv4 or IPv6
// address (with or without brackets, whatever the key_type), and literal
// keys, matched exactly.
type KeyFilter struct {
	nets     []netip.Prefix
	literals map[string]bool
}

// Empty reports whether the filter ignores nothing.
func (f *KeyFilter) Empty() bool { return f == nil || len(f.nets) == 0 && len(f.literals) == 0 }

// Ignores reports whether lines of the key are ignored.
func (f *KeyFilter) Ignores(key string) bool {
	if f.Empty() {
		return false
	}
	if f.literals[key] {
		return true
	}
	if len(f.nets) == 0 || len(key) > 64 {
		return false
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(key, "["), "]"))
	if err != nil || addr.Zone() != "" {
		return false
	}
	addr = addr.Unmap()
	for _, n := range f.nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// Entries returns the filter's networks (an address as a network of one)
// and literal keys, as ignore_keys would write them, networks first.
func (f *KeyFilter) Entries() []string {
	if f == nil {
		return nil
	}
	out := make([]string, 0, len(f.nets)+len(f.literals))
	for _, n := range f.nets {
		out = append(out, n.String())
	}
	lits := make([]string, 0, len(f.literals))
	for l := range f.literals {
		lits = append(lits, l)
	}
	slices.Sort(lits)
	return append(out, lits...)
}

// keyFilterEntry is one parsed element of ignore_keys.
type keyFilterEntry struct {
	net     netip.Prefix
	literal string
	problem string // why it is not valid, for an error
	warning string // what it means, when it may not be what was meant
}

// parseKeyFilterEntry reads one element of ignore_keys: a network
// (203.0.113.0/24, 2001:db8::/32), an address (a network of one), or any
// other text, taken literally. A network with host bits set is taken as
// its network, with a warning.
func parseKeyFilterEntry(s string) keyFilterEntry {
	if s == "" {
		return keyFilterEntry{problem: "an empty key"}
	}
	if addr, _, isNet := strings.Cut(s, "/"); isNet && looksLikeAddress(addr) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return keyFilterEntry{problem: fmt.Sprintf("invalid network %s: %s", strconv.Quote(s),
				strings.TrimPrefix(err.Error(), "netip.ParsePrefix("+strconv.Quote(s)+"): "))}
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		e := keyFilterEntry{net: p.Masked()}
		if e.net != p {
			e.warning = fmt.Sprintf("%s has host bits set: it means %s", strconv.Quote(s), e.net)
		}
		return e
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return keyFilterEntry{net: netip.PrefixFrom(a, a.BitLen())}
	}
	return keyFilterEntry{literal: s}
}

// looksLikeAddress reports whether s is written like an address (digits
// and dots, or hex digits and colons), so that a/b is taken for a network
// and a bad one is an error rather than a literal key.
func looksLikeAddress(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return strings.ContainsAny(s, ".:")
}
