declare module 'asl-validator' {
  interface AslValidatorResult {
    isValid: boolean;
    errors: Array<{ 'Error code': string; Message: string }>;
  }
  export default function validator(definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }): AslValidatorResult;
}
