"""The platform's services; `services.common` is the only code they share."""
