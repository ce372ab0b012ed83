/// # Escalation
///
/// The circle of care around one person: who is paged, in what order, what everyone is told, and a durable record
/// of it. Knows nothing of sensors or MQTT; the executable turns a detector's `Detection` into an `Alert`.
///
/// What the executable calls, per home:
///
/// ```swift
/// let config = try EscalationConfig.decode(text: json, file: path).get()      // every problem in one error
/// let notifiers = NotifierRegistry.instantiate(config.notifiers,
///                                              context: NotifierContext(logger: log, publisher: mqttPublisher))
/// let engine = EscalationEngine(config: config, clock: SystemClock(), notifiers: notifiers,
///                               stateDirectory: stateDir, logger: log, events: { line in publish(line.line) })
/// _ = try await engine.recover()           // journal replay: open incidents continue, the outbox is resent,
///                                          // Pushover emergency receipts go back to their notifier
/// Task { await engine.run() }              // timers, the schedule (daily digest, daily heartbeat, weekly
///                                          // tests, heartbeat URL ping), Pushover receipts, SMS replies
/// await engine.receive(alert)              // from the detectors
/// await engine.receive(ack)                // Ack.decode(incident:payload:) from AckTopic.filter(person:),
///                                          // NtfyNotifier.ack(fromStreamLine:), `careMonitord ack`
/// await engine.receive(HomeEvidence.doorOpened)   // front door, presence, the home button
/// ```
///
/// Commands: `IncidentJournal.read(directory:person:)` then `JournalQuery.incidents(_:since:targets:now:)` and
/// `JournalQuery.disclosures(_:since:)`; `IncidentJournal.forget(directory:person:before:)`;
/// `EscalationEngine.sendTestAlert(to:)` and `sendHeartbeat()`.
///
/// Replay and tests call `tick()` (incident timers only) and, for the calendar, `runSchedule()`: replay does not run
/// the schedule, so it never pings the heartbeat URL or sends digests on virtual time.
///
/// An incident opening takes over the open incidents its policy `inhibits` (a fall supersedes inactivity): they
/// stand down, and those paged are told the other incident carries on (`IncidentEvent.superseded`).
///
/// The pieces: `Incident` (the pure lifecycle state machine, events in, actions out), `IncidentRouter` (grouping,
/// inhibition, digest, supersession), `Messages` (the words), `EscalationSchedule.swift` (digest, heartbeat, weekly
/// tests: journaled `send` records with a key per day), `ReceiptKeeping` (receipts that survive a restart),
/// `EventLine` (the fixed replay/events contract), `JournalFile` (append-only, checksummed), the notifiers (one per
/// file, listed in `NotifierRegistry.standard`).
public enum EscalationModule {}
