/**
 * cdk-nag acknowledgements with their reasons in code. cdk-nag 3 matches a
 * finding id exactly (e.g. AwsSolutions-IAM5[Resource::<Bucket.Arn>/runs/*]),
 * so wildcard resources are rendered the way cdk-nag renders them.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Render a (possibly tokenized) value as cdk-nag prints it: Ref X -> <X>, GetAtt [a,b] -> <a.b>, Join -> concatenation. */
export function nagRender(scope: IConstruct, value: string): string {
  const walk = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(walk).join('');
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return `<${o.Ref}>`;
      if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if ('Fn::Join' in o) {
        const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(walk).join(sep);
      }
    }
    return JSON.stringify(v);
  };
  return walk(Stack.of(scope).resolve(value));
}

export function acknowledgeWildcards(scope: IConstruct, resources: readonly string[], reason: string): void {
  for (const r of resources) Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagRender(scope, r)}]`, reason });
}

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
