import SakuraSimulator

/// The simulator's JSON value (this file does not import Engine, whose `JSONValue` has the same name).
typealias SimulatorJSON = JSONValue
