"""sriovstack: a control plane that gives virtual machines SR-IOV Virtual Functions."""

__version__ = "0.1.0"
