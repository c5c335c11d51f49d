/** The CDK app: `cdk synth` / `cdk deploy` (config: cdk.context.json "cutline"). */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeployConfig } from '../lib/config';
import { CutlineStack } from '../lib/stack';

const app = new App();
const config = parseDeployConfig(app.node.tryGetContext('cutline'));
new CutlineStack(app, config.stackName, config, config.env ? { env: config.env } : {});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
