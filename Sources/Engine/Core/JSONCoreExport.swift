// `JSONValue` is part of the engine's vocabulary (signal payloads, observations, diagnostic outputs): it lives in
// its own dependency-free module so that the SAKURA Cloud simulator shares it without knowing of the engine.
@_exported import JSONCore
