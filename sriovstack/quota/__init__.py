"""Quotas: the book of hard limits per project and quota class that compute and network
enforce (their own modules count the usage and name the resources)."""

from sriovstack.quota.book import (DEFAULT_CLASS, UNLIMITED, Overage, QuotaBook, check_limit,
                                   overages)

__all__ = ["QuotaBook", "Overage", "UNLIMITED", "DEFAULT_CLASS", "overages", "check_limit"]
