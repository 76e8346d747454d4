"""APScheduler jobs per region, in the region's time zone (thin calls into services)."""
