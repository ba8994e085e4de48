import Testing

/// The HTTP server's tests that load the machine or measure deadlines (`extension
/// AdversarialTests`): `make test` runs them on their own after the rest, one at a time, with the
/// other modules' `AdversarialTests` (Tests/HostTests/Adversarial).
@Suite(.serialized) struct AdversarialTests {}
