import Anomaly
import Escalation

/// Turns the home's own readings into evidence that a responder arrived (`HomeEvidence`), while an incident is
/// open: the front door opening, then movement inside, or a button by the front door pressed.
///
/// Which device is the front door comes from the routine detector's rooms (`detectors.routine.rooms`, else the
/// device's name: "front_door", "entrance"…): a `contact` reading of an `entrance` device going open is the door,
/// a `button` reading of one is the home button, a `motion` reading elsewhere (not `ignore`) is presence. Only the
/// first movement after each opening of the door is passed on: the incident needs one, not one a second.
///
/// The door's state is followed on every reading, incident or not (an opening is a change from closed); evidence is
/// sent only while an incident is open, and a movement counts only after an opening seen while the same incidents
/// were open (`generation`: how many incidents escalation has opened so far).
///
/// Detector thread only.
struct ArrivalEvidence {
    enum Role: UInt8 { case unresolved, none, frontDoor, inside, homeButton }
    private var roles: [Role] = []
    private var doorOpen: [Bool] = []
    private let rooms: RoomClassifier
    private let registry: SignalRegistry
    private var presenceDue = false
    private var generation = -1

    init(rooms: RoomClassifier, registry: SignalRegistry) {
        self.rooms = rooms
        self.registry = registry
    }

    mutating func scan(_ samples: UnsafeBufferPointer<Sample>, watching: Bool, generation g: Int,
                       _ send: (HomeEvidence, Double) -> Void) {
        if g != generation {
            generation = g
            presenceDue = false
        }
        var last = SignalID(.max)
        var role = Role.none
        for s in samples {
            if s.signal != last {
                last = s.signal
                role = self.role(s.signal)
            }
            switch role {
            case .unresolved, .none: continue
            case .frontDoor:
                let i = Int(s.signal.rawValue)
                let open = s.value == 0  // contact: true (1) is closed
                if open && !doorOpen[i] && watching {
                    presenceDue = true
                    send(.doorOpened, s.time)
                }
                doorOpen[i] = open
            case .inside:
                if s.value != 0 && presenceDue && watching {
                    presenceDue = false
                    send(.presence, s.time)
                }
            case .homeButton:
                if watching { send(.homeButton, s.time) }
            }
        }
    }

    /// True when readings of this signal can be evidence (the front door, movement inside, the home button).
    mutating func isEvidence(_ id: SignalID) -> Bool { role(id) != .none }

    private mutating func role(_ id: SignalID) -> Role {
        let i = Int(id.rawValue)
        if i < roles.count && roles[i] != .unresolved { return roles[i] }
        while roles.count <= i { roles.append(.unresolved); doorOpen.append(false) }
        var r = Role.none
        if let info = registry.info(id) {
            let room = rooms.room(device: info.device, kind: info.kind)
            switch (info.kind, room) {
            case (.contact, .entrance): r = .frontDoor
            case (.button, .entrance): r = .homeButton
            case (.motion, let room) where room != .entrance && room != .ignore: r = .inside
            default: r = .none
            }
        }
        roles[i] = r
        return r
    }
}
