// The server fixtures (ServeFixture, KajiServe, HTTPReply, the event-stream reader) live in the test kit;
// every file of this target sees them through this import.
@_exported import KajiTesting
