"""The scheduler: pipelines, the inbox and alert delivery on their cron schedules, in one process."""
