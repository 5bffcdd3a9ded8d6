import Testing
@Test func workflowsPlaceholder() {}
