// Stand-ins for the modules aws-local-stepfunctions imports to call AWS Lambda and to validate
// definitions. stepline binds every Task to a local handler and passes noValidate, so neither is ever
// used; bundling these instead keeps about half a second of SDK loading out of every `stepline run`,
// and turns any attempt to reach AWS from the local engine into an error.
const refuse = () => {
  throw new Error('the local engine tried to call AWS Lambda: every Task must be bound to a local handler');
};
export class LambdaClient {
  constructor() {
    refuse();
  }
}
export class InvokeCommand {
  constructor() {
    refuse();
  }
}
export const fromCognitoIdentityPool = refuse;
export default function aslValidator() {
  return { isValid: true, errors: [] };
}
