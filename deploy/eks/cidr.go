package main

import (
	"fmt"
	"net/netip"
)

// subnetCIDR carves the index-th block of newBits more bits out of an IPv4
// base prefix, like Terraform's cidrsubnet: subnetCIDR(10.0.0.0/16, 3, 1)
// is 10.0.32.0/19.
func subnetCIDR(base string, newBits, index int) (string, error) {
	p, err := netip.ParsePrefix(base)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", base, err)
	}
	if !p.Addr().Is4() {
		return "", fmt.Errorf("%q is not IPv4", base)
	}
	bits := p.Bits() + newBits
	if newBits < 0 || bits > 32 {
		return "", fmt.Errorf("%q has no room for %d more bits", base, newBits)
	}
	if index < 0 || index >= 1<<newBits {
		return "", fmt.Errorf("index %d does not fit in %d bits", index, newBits)
	}
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(index) << (32 - bits)
	addr := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	return netip.PrefixFrom(addr, bits).String(), nil
}

// privateSubnetCIDR is the node subnet of zone i: an eighth of the VPC
// (a /19 of a /16), large because prefix delegation hands out /28 blocks.
func privateSubnetCIDR(vpc string, i int) (string, error) { return subnetCIDR(vpc, 3, i) }

// publicSubnetCIDR is the load balancer and NAT subnet of zone i: a /22 of
// a /16, taken from the upper half that the private subnets leave free.
func publicSubnetCIDR(vpc string, i int) (string, error) { return subnetCIDR(vpc, 6, 32+i) }
