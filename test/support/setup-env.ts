// Local tooling runs on Node 20 while Lambda runs Node 22: silence the SDK's reminder in tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
