// The simulator's documents are `JSONValue`s (module JSONCore, shared with the engine, which the simulator
// knows nothing of); clients of the simulator see the type without importing JSONCore.
@_exported import JSONCore
