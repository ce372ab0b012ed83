import CareSupport
import Escalation

/// What an accepted answer must hold whatever the parser: a member, a known action, an ETA in range.
func checkAck(_ a: Ack, _ parser: String) {
    precondition(!a.member.isEmpty, "\(parser): an answer without a member")
    if let eta = a.etaMinutes { precondition((0...Ack.maximumETAMinutes).contains(eta), "\(parser): ETA \(eta) out of range") }
}

func fuzzAck(_ input: UnsafeRawBufferPointer) {
    switch Ack.decode(incident: "linda-20261123-140203", payload: Array(input)) {
    case .success(let a): checkAck(a, "ack")
    case .failure(let e): precondition(!e.message.isEmpty, "ack: a refusal without a message")
    }
}

/// The reply's words as the engine takes them: an action, and minutes only with a claim.
func checkReplyText(_ text: String, _ parser: String) {
    guard let (action, eta) = SMSNotifier.action(fromReply: text) else { return }
    precondition(eta == nil || action == .claim, "\(parser): minutes with \(action)")
    checkAck(Ack(incident: "i", member: "anna", action: action, etaMinutes: eta, via: "sms", proof: .channel), parser)
}

func fuzzSMSReply(_ input: UnsafeRawBufferPointer) {
    checkReplyText(String(decoding: input, as: UTF8.self), "sms-reply")
}

func fuzzSMSSpool(_ input: UnsafeRawBufferPointer) {
    guard let reply = SMSNotifier.reply(fromFile: Array(input), path: "/var/spool/sms/incoming/GSM1.fuzz") else { return }
    precondition(!reply.from.contains("\n"), "sms-spool: a sender spanning lines")
    _ = SMSNotifier.number(reply.from)
    checkReplyText(reply.text, "sms-spool")
}

func fuzzNtfy(_ input: UnsafeRawBufferPointer) {
    let (acks, _) = NtfyNotifier.answers(fromStream: String(decoding: input, as: UTF8.self))
    for a in acks {
        checkAck(a, "ntfy")
        precondition(a.via == "ntfy", "ntfy: an answer that says it came from \(a.via)")
        if case .channel = a.proof { preconditionFailure("ntfy: a published answer vouched for by the channel") }
    }
}

func fuzzPushover(_ input: UnsafeRawBufferPointer) {
    _ = PushoverNotifier.receiptState(Array(input))
}

/// The first byte says whether this is the first sync (history before the start is skipped); the rest is the body.
func fuzzMatrix(_ input: UnsafeRawBufferPointer) {
    guard let flags = input.first else { return }
    let bot = "@caremonitord:example.org"
    guard let sync = MatrixNotifier.replies(fromSync: Array(input.dropFirst()), room: "!room:example.org", bot: bot,
                                            firstSync: flags & 1 == 1, notBefore: WallTime(milliseconds: 1_763_856_000_000))
    else { return }
    for r in sync.replies {
        precondition(r.from != bot, "matrix: the bot's own message taken as an answer")
        checkReplyText(r.text, "matrix")
    }
}
