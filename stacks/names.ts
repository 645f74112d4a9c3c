/** Names of what one installation creates: part of the installation contract, in core. */
export {
  fitName,
  type InstallationNames,
  installationNames,
  lambdaArn,
  parameterArn,
  sanitize,
  shortHash,
  stateMachineArn,
  topicArn,
} from '@stepline/core';
