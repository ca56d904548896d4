// The core app's own tests, unchanged, with every event reaching the app through the bundled
// gateway's in-process integration (see test/support/transports.ts).
process.env.GATEHOUSE_TEST_TRANSPORT = 'in-process'
await import('../../app/connect.test.ts')
await import('../../app/message.test.ts')
await import('../../app/send.test.ts')
await import('../../app/no-raw-token.test.ts')
