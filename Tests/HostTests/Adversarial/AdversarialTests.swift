import Testing

/// The attacks of issue #12 on a running supernode, one suite each (`extension AdversarialTests`).
/// They load the machine (thousands of connections, floods), so `make test` runs every
/// `AdversarialTests` suite on its own after the rest, one test at a time: a flood must not make
/// another test's timings fail, nor another test the flood's.
@Suite(.serialized) struct AdversarialTests {}
