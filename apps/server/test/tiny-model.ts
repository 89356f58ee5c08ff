// The tiny model the server tests deploy: the core's test helper (the example fine-tune, trained briefly).
export { trainTinyModel } from '@aicloud/core/testing';
