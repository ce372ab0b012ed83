// CareSupport
