import SakuraSimulator

/// The simulator's JSON value (`JSONValue` of JSONCore, the same type the engine uses).
package typealias SimulatorJSON = JSONValue
