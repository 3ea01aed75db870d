import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { ListenerStackSettings } from './props.js';

/**
 * The VPC the task and the EFS mount targets live in: an existing one, given by ids (a look-up would
 * need credentials at synth time), or a new one with private subnets behind one NAT gateway — one
 * fixed egress address, which is what an exchange allow-list wants — or two (`natGateways=2`), one
 * per zone, so a zone's outage cannot cut the other zone's egress (two addresses to allow-list).
 * `egressIps` are the NAT gateways' Elastic IPs (none for an existing VPC: its egress is its own).
 */
export function listenerVpc(
  scope: Construct,
  settings: Pick<ListenerStackSettings, 'existingVpc' | 'logRetentionDays' | 'natGateways'>,
): { vpc: ec2.IVpc; egressIps: string[] } {
  const existing = settings.existingVpc;
  if (existing !== undefined) {
    const vpc = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', {
      vpcId: existing.vpcId,
      availabilityZones: existing.availabilityZones,
      privateSubnetIds: existing.privateSubnetIds,
    });
    return { vpc, egressIps: [] };
  }
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: settings.natGateways,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
    ],
    // Every resource here has its own security group; restricting the default one would add a
    // custom-resource Lambda for no gain.
    restrictDefaultSecurityGroup: false,
  });
  // Who the task talked to, and what the security group refused: the record an incident review
  // (or an exchange asking about a connection) needs.
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(
      new logs.LogGroup(scope, 'FlowLogs', {
        retention: settings.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
    ),
    trafficType: ec2.FlowLogTrafficType.ALL,
  });
  // Archive uploads stay on the AWS network and skip NAT data charges.
  vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
  // Each NAT gateway sits in a public subnet with its Elastic IP beside it.
  const egressIps = vpc.publicSubnets
    .map((subnet) => subnet.node.tryFindChild('EIP'))
    .filter((eip): eip is ec2.CfnEIP => eip instanceof ec2.CfnEIP)
    .map((eip) => eip.attrPublicIp);
  return { vpc, egressIps };
}

/** Where the task and the file system go: the private subnets, whichever VPC it is. */
export const PRIVATE_SUBNETS: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
