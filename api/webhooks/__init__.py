"""Webhooks to merchants: endpoints, Standard Webhooks signatures, queueing and delivery."""
