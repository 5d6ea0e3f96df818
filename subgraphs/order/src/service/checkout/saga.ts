/**
 * One step of a saga: `run` does its work and records what it produced on the shared context; `compensate` undoes it
 * when a LATER step fails. A step without `compensate` changed nothing that needs undoing (a read, a computation, or
 * the final transaction, which either commits or leaves nothing behind).
 */
export interface SagaStep<C> {
  readonly name: string;
  run(ctx: C): Promise<void>;
  compensate?(ctx: C): Promise<void>;
}

/**
 * Runs the steps in order. When one throws, the compensations of the steps that had COMPLETED run in reverse order
 * (the failed step's own is not called: it is expected to leave nothing behind when it throws), each failure of a
 * compensation is reported to `onCompensationError` and does not stop the others, and the step's error is rethrown.
 */
export async function runSaga<C>(
  steps: readonly SagaStep<C>[],
  ctx: C,
  onCompensationError: (step: SagaStep<C>, err: unknown) => void,
): Promise<void> {
  const done: SagaStep<C>[] = [];
  try {
    for (const step of steps) {
      await step.run(ctx);
      done.push(step);
    }
  } catch (err) {
    for (const step of done.reverse()) {
      if (step.compensate) await step.compensate(ctx).catch((e) => onCompensationError(step, e));
    }
    throw err;
  }
}
