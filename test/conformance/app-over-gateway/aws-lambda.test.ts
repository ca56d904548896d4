// The core app's own tests, unchanged, with every event built from AWS's sample Lambda events
// (test/fixtures/aws/) and handed to toLambdaHandler(app) directly, as AWS invokes a function
// (see test/support/transports.ts).
process.env.GATEHOUSE_TEST_TRANSPORT = 'aws-lambda'
await import('../../app/connect.test.ts')
await import('../../app/message.test.ts')
await import('../../app/send.test.ts')
await import('../../app/no-raw-token.test.ts')
