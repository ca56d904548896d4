/**
 * @module app/standard-schema
 * The types of Standard Schema v1 (https://standardschema.dev, MIT), which zod 4, valibot
 * and arktype schemas implement. Copied rather than imported, as the spec invites, so
 * Gatehouse has no validator dependency, not even a types-only one: a handler's `schema` is
 * any object with a `~standard` property of this shape. The spec's namespaces are flattened
 * into plain interfaces (erasable syntax only); they are structurally the same types, and
 * `test/app/standard-schema.types.ts` checks that against `@standard-schema/spec`.
 */

/**
 * A Standard Schema: what `z.object(...)`, `v.object(...)` or `type({...})` return.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * const schema: StandardSchemaV1<{ text: string }> = z.object({ text: z.string() })
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaProps<Input, Output>
}

/**
 * The `~standard` property of a {@link StandardSchemaV1}.
 *
 * @example
 * ```ts
 * const result = await schema['~standard'].validate({ text: 'hi' })
 * ```
 */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  readonly version: 1
  readonly vendor: string
  readonly validate: (
    value: unknown,
    options?: { readonly libraryOptions?: Record<string, unknown> | undefined } | undefined,
  ) => StandardResult<Output> | Promise<StandardResult<Output>>
  readonly types?: { readonly input: Input; readonly output: Output } | undefined
}

/**
 * What `validate` returns: the typed value, or the issues.
 *
 * @example
 * ```ts
 * const r: StandardResult<{ text: string }> = { value: { text: 'hi' } }
 * ```
 */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] }

/**
 * One validation issue. Only its `path` leaves the app (in the validation reply); the
 * `message` may quote the input and is never sent.
 *
 * @example
 * ```ts
 * const issue: StandardIssue = { message: 'Too long', path: ['text'] }
 * ```
 */
export interface StandardIssue {
  readonly message: string
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined
}

/**
 * The input type of a schema (what a client sends).
 *
 * @example
 * ```ts
 * type Body = InferInput<typeof schema> // { text: string }
 * ```
 */
export type InferInput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['input']

/**
 * The output type of a schema (what `ctx.body` is after validation).
 *
 * @example
 * ```ts
 * type Body = InferOutput<typeof schema> // { text: string }
 * ```
 */
export type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output']
