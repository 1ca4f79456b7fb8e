/** The format lives in app/ (the studio reads it back from dropped PNGs): one definition. */
export { infotext, parseInfotext } from '../../app/infotext';
