"""Create the resources of an expanded (plain CloudFormation) template in moto, in dependency
order, resolving the intrinsic functions on the way: a small CloudFormation for the types the
template uses. A type it does not know is an error that names it, so a new resource in
template.yaml cannot be silently missing from the local cloud. The types moto does not have and
the local cloud does without are skipped by name (`SKIPPED_TYPES`), each listed in
`DeployedStack.skipped`."""

from __future__ import annotations

import io
import json
import re
import secrets
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from pitwall import aws
from pitwall_local.template import CODE_BUCKET

ACCOUNT_ID = "123456789012"
_NO_VALUE = object()
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# moto has no EC2 Image Builder; without the baked image the hosts boot from the base image
# (the SSM parameter of the newest baked image stays absent), as in AWS before its first bake
SKIPPED_TYPES = frozenset(
    {
        "AWS::ImageBuilder::Component",
        "AWS::ImageBuilder::ImageRecipe",
        "AWS::ImageBuilder::InfrastructureConfiguration",
        "AWS::ImageBuilder::DistributionConfiguration",
        "AWS::ImageBuilder::ImagePipeline",
        "AWS::ImageBuilder::LifecyclePolicy",
    }
)


@dataclass
class DeployedStack:
    name: str
    region: str
    parameters: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> what Ref gives
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> GetAtt
    types: dict[str, str] = field(default_factory=dict)
    function_code: dict[str, Path] = field(default_factory=dict)  # function name -> local folder
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # logical ids of SKIPPED_TYPES resources

    def of_type(self, resource_type: str) -> dict[str, Any]:
        return {logical: self.refs[logical] for logical, t in self.types.items() if t == resource_type}


class Deployer:
    def __init__(self, template: dict[str, Any], *, stack_name: str, region: str, root: Path) -> None:
        self.template = template
        self.root = root
        self.stack = DeployedStack(name=stack_name, region=region, parameters={})
        self._conditions: dict[str, bool] = {}

    # -- intrinsic functions ------------------------------------------------------------------

    def _pseudo(self, name: str) -> Any:
        region = self.stack.region
        return {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": self.stack.region,
            "AWS::StackName": self.stack.name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{self.stack.name}",
            "AWS::NoValue": _NO_VALUE,
        }[name]

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        return self.stack.refs[name]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self.stack.attributes[logical][attribute])
            return str(self._ref(name))

        return _SUB_NAME.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.stack.attributes[logical][attribute]
            if key == "Fn::Sub":
                if isinstance(argument, str):
                    return self._sub(argument, {})
                return self._sub(argument[0], {k: self.resolve(v) for k, v in argument[1].items()})
            if key == "Fn::Join":
                return str(argument[0]).join(str(v) for v in self.resolve(argument[1]))
            if key == "Fn::Select":
                return self.resolve(argument[1])[int(self.resolve(argument[0]))]
            if key == "Fn::Split":
                return str(self.resolve(argument[1])).split(argument[0])
            if key == "Fn::If":
                return self.resolve(argument[1] if self._conditions[argument[0]] else argument[2])
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self._condition(value)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _condition(self, expression: Any) -> bool:
        ((key, argument),) = expression.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._condition(argument[0])
        if key == "Fn::And":
            return all(self._condition(a) for a in argument)
        if key == "Fn::Or":
            return any(self._condition(a) for a in argument)
        if key == "Condition":
            return self._conditions[argument]
        raise ValueError(f"unknown condition function {key}")

    # -- order ------------------------------------------------------------------------------

    @staticmethod
    def _dependencies(value: Any, found: set[str]) -> set[str]:
        if isinstance(value, list):
            for item in value:
                Deployer._dependencies(item, found)
        elif isinstance(value, dict):
            for key, argument in value.items():
                if key == "Ref" and isinstance(argument, str):
                    found.add(argument)
                elif key == "Fn::GetAtt":
                    found.add(argument[0] if isinstance(argument, list) else argument.split(".")[0])
                elif key == "Fn::Sub":
                    text = argument if isinstance(argument, str) else argument[0]
                    found.update(name.split(".")[0] for name in _SUB_NAME.findall(text))
                    if not isinstance(argument, str):
                        Deployer._dependencies(argument[1], found)
                else:
                    Deployer._dependencies(argument, found)
        return found

    # -- deploy -----------------------------------------------------------------------------

    def deploy(self, parameters: dict[str, Any]) -> DeployedStack:
        declared = self.template.get("Parameters", {})
        missing = [
            name for name, spec in declared.items() if name not in parameters and "Default" not in spec
        ]
        if missing:
            raise ValueError(f"template parameters without a value or default: {', '.join(missing)}")
        for name, spec in declared.items():
            value = parameters.get(name, spec.get("Default"))
            if spec.get("Type", "").startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                value = (
                    [str(v) for v in value]
                    if isinstance(value, list)
                    else [v for v in str(value).split(",") if v]
                )
            else:
                value = str(value)  # CloudFormation parameters are strings
            self.stack.parameters[name] = value
        for name, expression in self.template.get("Conditions", {}).items():
            self._conditions[name] = self._condition(expression)
        resources = self.template["Resources"]
        graph = {
            logical: {
                d
                for d in self._dependencies(resource.get("Properties", {}), set())
                | set(
                    resource.get("DependsOn", [])
                    if isinstance(resource.get("DependsOn"), list)
                    else [resource["DependsOn"]]
                    if "DependsOn" in resource
                    else []
                )
                if d in resources
            }
            for logical, resource in resources.items()
        }
        for logical in TopologicalSorter(graph).static_order():
            resource = resources[logical]
            if "Condition" in resource and not self._conditions[resource["Condition"]]:
                continue
            if resource["Type"] in SKIPPED_TYPES:
                self.stack.skipped.append(logical)
                arn = f"arn:aws:{resource['Type'].split('::')[1].lower()}:{self.stack.region}:{ACCOUNT_ID}"
                self.stack.refs[logical] = f"{arn}:skipped/{logical}"
                self.stack.attributes[logical] = {}
                self.stack.types[logical] = resource["Type"]
                continue
            create = _CREATORS.get(resource["Type"])
            if create is None:
                raise NotImplementedError(
                    f"the local cloud cannot create {resource['Type']} ({logical}): "
                    "add a creator for it to localcloud/deployer.py"
                )
            properties = self.resolve(resource.get("Properties", {}))
            ref, attributes = create(self, logical, properties)
            self.stack.refs[logical] = ref
            self.stack.attributes[logical] = attributes
            self.stack.types[logical] = resource["Type"]
        for name, output in self.template.get("Outputs", {}).items():
            self.stack.outputs[name] = self.resolve(output["Value"])
        self.record_stack()
        return self.stack

    def record_stack(self) -> None:
        """Record the deployment as a CloudFormation stack with its parameters and outputs, so
        `DescribeStacks` answers as for a stack `sam deploy` made (the CLI finds the bucket and
        table there). The resources are already made: the recorded template holds only a
        resource-less placeholder (moto would try to create the real ones itself)."""
        parameters = {
            name: ",".join(value) if isinstance(value, list) else str(value)
            for name, value in self.stack.parameters.items()
        }
        template = {
            "Parameters": {name: {"Type": "String"} for name in parameters},
            "Resources": {"DeployedByTheLocalCloud": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {name: {"Value": str(value)} for name, value in self.stack.outputs.items()},
        }
        with warnings.catch_warnings():  # moto says it does not model the placeholder: none does
            warnings.simplefilter("ignore", UserWarning)
            aws.client("cloudformation", self.stack.region).create_stack(
                StackName=self.stack.name,
                TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            )

    def physical_name(self, logical: str, limit: int = 64) -> str:
        return f"{self.stack.name}-{logical}"[:limit]

    def local_folder(self, code: dict[str, Any]) -> Path:
        if code.get("S3Bucket") != CODE_BUCKET:
            raise ValueError(f"code outside the checkout is not supported locally: {code}")
        return self.root / code["S3Key"]


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*.py")):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _placeholder_zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/LOCAL.txt", f"the local cloud imports the layer from {folder}\n")
    return buffer.getvalue()


Creator = Callable[[Deployer, str, dict[str, Any]], tuple[Any, dict[str, Any]]]


def _bucket(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    s3 = aws.client("s3", d.stack.region)
    name = p.get("BucketName") or d.physical_name(logical).lower()
    s3.create_bucket(Bucket=name)
    if "VersioningConfiguration" in p:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
        )
    if "BucketEncryption" in p:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    lambdas = p.get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
    if lambdas:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "LambdaFunctionArn": item["Function"],
                        "Events": [item["Event"]],
                        "Filter": {
                            "Key": {"FilterRules": item.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
                        },
                    }
                    for item in lambdas
                ]
            },
        )
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


def _bucket_policy(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # moto ignores policy conditions and would apply a conditional Deny (TLS only) to every
    # request; only unconditional statements are given to it
    document = dict(p["PolicyDocument"])
    document["Statement"] = [s for s in document["Statement"] if "Condition" not in s]
    if document["Statement"]:
        aws.client("s3", d.stack.region).put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(document))
    return logical, {}


def _table(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("TableName") or d.physical_name(logical)
    request = {
        k: p[k]
        for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
        if k in p
    }
    answer = aws.client("dynamodb", d.stack.region).create_table(TableName=name, **request)
    return name, {"Arn": answer["TableDescription"]["TableArn"]}


def _topic(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("TopicName") or d.physical_name(logical, 256)
    arn = aws.client("sns", d.stack.region).create_topic(Name=name)["TopicArn"]
    return arn, {"TopicName": name, "TopicArn": arn}


def _subscription(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    policy = p.get("FilterPolicy")
    attributes = {"FilterPolicy": policy if isinstance(policy, str) else json.dumps(policy)} if policy else {}
    answer = aws.client("sns", d.stack.region).subscribe(
        TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"], Attributes=attributes
    )
    return answer["SubscriptionArn"], {}


def _kms_key(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    key = aws.client("kms", d.stack.region).create_key(
        Description=p.get("Description", ""), Policy=json.dumps(p["KeyPolicy"])
    )["KeyMetadata"]
    return key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}


def _dashboard(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("DashboardName") or d.physical_name(logical, 255)
    body = p["DashboardBody"]
    aws.client("cloudwatch", d.stack.region).put_dashboard(
        DashboardName=name, DashboardBody=body if isinstance(body, str) else json.dumps(body)
    )
    return name, {}


_ALARM_FIELDS = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)


def _alarm(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("AlarmName") or d.physical_name(logical, 255)
    cloudwatch = aws.client("cloudwatch", d.stack.region)
    cloudwatch.put_metric_alarm(AlarmName=name, **{k: p[k] for k in _ALARM_FIELDS if k in p})
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return name, {"Arn": arn}


def _event_bus(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    arn = aws.client("events", d.stack.region).create_event_bus(Name=p["Name"])["EventBusArn"]
    return p["Name"], {"Arn": arn, "Name": p["Name"]}


def _security_group(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    answer = aws.client("ec2", d.stack.region).create_security_group(
        GroupName=d.physical_name(logical, 255), Description=p["GroupDescription"], VpcId=p["VpcId"]
    )
    return answer["GroupId"], {"GroupId": answer["GroupId"], "VpcId": p["VpcId"]}


def _role(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    iam = aws.client("iam", d.stack.region)
    name = p.get("RoleName") or d.physical_name(logical)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))[
        "Role"
    ]["Arn"]
    for policy in p.get("Policies", []):
        # SAM's policy templates carry no Version; IAM accepts that, moto does not
        document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
        )
    return name, {"Arn": arn, "RoleId": name}


def _schedule_group(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("Name") or d.physical_name(logical)
    arn = aws.client("scheduler", d.stack.region).create_schedule_group(Name=name)["ScheduleGroupArn"]
    return name, {"Arn": arn}


def _instance_profile(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    iam = aws.client("iam", d.stack.region)
    name = p.get("InstanceProfileName") or d.physical_name(logical)
    arn = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    for role in p.get("Roles", []):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return name, {"Arn": arn}


def _managed_policy(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    iam = aws.client("iam", d.stack.region)
    arn = iam.create_policy(
        PolicyName=p.get("ManagedPolicyName") or d.physical_name(logical, limit=128),
        Path=p.get("Path", "/"),
        PolicyDocument=json.dumps(p["PolicyDocument"]),
        Description=p.get("Description", ""),
    )["Policy"]["Arn"]
    return arn, {"PolicyArn": arn}


def _layer(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # the layer's package is installed in this process already; moto only needs a zip
    answer = aws.client("lambda", d.stack.region).publish_layer_version(
        LayerName=p.get("LayerName") or d.physical_name(logical),
        Content={"ZipFile": _placeholder_zip(d.local_folder(p["Content"]))},
        CompatibleRuntimes=p.get("CompatibleRuntimes", []),
    )
    return answer["LayerVersionArn"], {}


def _function(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("FunctionName") or d.physical_name(logical)
    folder = d.local_folder(p["Code"])
    request: dict[str, Any] = {
        k: p[k]
        for k in ("Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Layers", "Description")
        if k in p
    }
    if p.get("Tags"):  # CloudFormation's list of Key/Value, Lambda's mapping
        request["Tags"] = {tag["Key"]: tag["Value"] for tag in p["Tags"]}
    answer = aws.client("lambda", d.stack.region).create_function(
        FunctionName=name, Role=p["Role"], Code={"ZipFile": _zip_folder(folder)}, **request
    )
    d.stack.function_code[name] = folder
    return name, {"Arn": answer["FunctionArn"]}


def _permission(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return logical, {}  # moto does not enforce resource policies


def _state_machine(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = p.get("StateMachineName") or d.physical_name(logical, 80)
    definition = p["DefinitionString"] if "DefinitionString" in p else json.dumps(p["Definition"])
    for key, value in p.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    json.loads(definition)  # the substituted definition must still be JSON
    arn = aws.client("stepfunctions", d.stack.region).create_state_machine(
        name=name, definition=definition, roleArn=p["RoleArn"], type=p.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    return arn, {"Arn": arn, "Name": name}


def _rule(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    events = aws.client("events", d.stack.region)
    name = p.get("Name") or d.physical_name(logical)
    bus = p.get("EventBusName", "default")
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
    if "EventPattern" in p:
        request["EventPattern"] = json.dumps(p["EventPattern"])
    if "ScheduleExpression" in p:
        request["ScheduleExpression"] = p["ScheduleExpression"]
    arn = events.put_rule(**request)["RuleArn"]
    targets = [
        {k: t[k] for k in ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer") if k in t}
        for t in p.get("Targets", [])
    ]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return name, {"Arn": arn}


def _queue(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    sqs = aws.client("sqs", d.stack.region)
    name = p.get("QueueName") or d.physical_name(logical, 80)
    attributes = {
        k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k])
        for k in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled", "KmsMasterKeyId")
        if k in p
    }
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _event_invoke_config(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    request = {
        k: p[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in p
    }
    aws.client("lambda", d.stack.region).put_function_event_invoke_config(
        FunctionName=p["FunctionName"], **request
    )
    return logical, {}


def _policy(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    iam = aws.client("iam", d.stack.region)
    for role in p.get("Roles", []):
        iam.put_role_policy(
            RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=json.dumps(p["PolicyDocument"])
        )
    return logical, {}


def _secret(d: Deployer, logical: str, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # GenerateSecretString: a random placeholder, as CloudFormation makes one
    value = p.get("SecretString") or secrets.token_urlsafe(
        p.get("GenerateSecretString", {}).get("PasswordLength", 32)
    )
    arn = aws.client("secretsmanager", d.stack.region).create_secret(
        Name=p.get("Name") or d.physical_name(logical),
        Description=p.get("Description", ""),
        SecretString=value,
    )["ARN"]
    return arn, {"Id": arn}


_CREATORS: dict[str, Creator] = {
    "AWS::SQS::Queue": _queue,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::IAM::Policy": _policy,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::KMS::Key": _kms_key,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Events::EventBus": _event_bus,
    "AWS::EC2::SecurityGroup": _security_group,
    "AWS::IAM::Role": _role,
    "AWS::IAM::InstanceProfile": _instance_profile,
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::Permission": _permission,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _rule,
    "AWS::SecretsManager::Secret": _secret,
}
