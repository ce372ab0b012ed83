// Escalation
