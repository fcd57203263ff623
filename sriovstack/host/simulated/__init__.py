"""The simulated host: NIC catalogue, topology files, fixture builder, fake kernel and netlink."""
