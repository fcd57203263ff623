"""The netns data plane: real packets for simulated hosts (network namespaces, veth, bridges,
nftables), root only."""
