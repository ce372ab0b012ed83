/// What people read about a kind of alert: the table beside the detection kinds fills it in, escalation only reads
/// it. `{name}` becomes the person's name and `{their}` her possessive pronoun (`person.pronouns`).
public struct KindWording: Sendable, Equatable {
    /// What happened, as the start of a sentence: "Fall detected", "{name} pressed {their} help button".
    public var headline: String
    /// The self-check's question to the person: "Did you fall?".
    public var question: String
    /// What a member must (or must not) do, said in every page about it: "… Do not go in."
    public var advice: String?
    public init(headline: String, question: String, advice: String? = nil) {
        self.headline = headline; self.question = question; self.advice = advice
    }
}
