"""Messages to drivers, households and coordinators: the outbox, its sender, channels, replies and check-ins."""
